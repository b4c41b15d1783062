"""Shared test support: real servers on loopback, free ports, system programs."""
