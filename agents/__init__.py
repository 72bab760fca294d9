"""Agents of the Safe Mobility ABM: the people (as arrays), their social network and Mesa handles."""
