"""Load generators and the state machines they drive."""
