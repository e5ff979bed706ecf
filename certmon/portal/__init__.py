"""Self-service for a constituent's own users: their alerts, what they are matched on, their answers."""
