"""Policies and inner learners."""
