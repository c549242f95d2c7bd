"""What the bench flies: scenarios, fault injections, closed-loop descents over the links,
model-only runs and campaigns of both, and the plots of a flight."""
