"""The SLA model every service shares: allowances, business calendar, clock arithmetic, service levels file."""
