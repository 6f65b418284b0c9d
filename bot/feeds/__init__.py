"""Feeds: fetch, parse, normalise, render and poll the organisations feeds."""
