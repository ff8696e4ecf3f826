"""Live fault injection: a DNS proxy that answers the way a broken record does, its control API,
the bridge from simulation scenarios, and a Chaos Toolkit extension.
"""
