"""`aftershock demo`: the built-in story."""

from __future__ import annotations

from aftershock.cli.app import FormatOption, OutputFormat, app, console, emit, load_graph


@app.command()
def demo(fmt: FormatOption = OutputFormat.text) -> None:
    """Run the built-in demo: an online shop on AWS us-east-1 and the DNS record that takes it down."""
    from aftershock.demo import demo_model_path, demo_story
    from aftershock.report.terminal import print_demo

    story = demo_story(load_graph(demo_model_path()))
    emit(story, fmt, lambda s: print_demo(console, s))
