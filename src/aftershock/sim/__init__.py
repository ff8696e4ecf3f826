"""Cascades through time: a fluid, fixed-step simulator with composable mechanisms (see engine.py)."""

from aftershock.sim.engine import Simulation, simulate
from aftershock.sim.results import SimResult, Window
from aftershock.sim.scenario import Scenario, load_scenario, load_scenario_text

__all__ = ["Scenario", "SimResult", "Simulation", "Window", "load_scenario", "load_scenario_text",
           "simulate"]
