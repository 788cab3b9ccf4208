"""Complaints (manual chapter 5): intake, deadlines, lifecycle, analysis."""
