"""Prompt routing: which of two models a prompt should go to, and the evidence of what that trades."""
