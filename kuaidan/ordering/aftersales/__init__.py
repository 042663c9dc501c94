"""After-sales, a sub-area of ordering: returns, exchanges and refunds for missing items once
an order is delivered. It reaches the order through the ordering core's service."""
