"""Callbacks from an agent and advisor appointments at a branch (spec: "Human agents")."""
