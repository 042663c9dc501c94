"""Changes before shipping, a sub-area of ordering: a new address, another colour/size or
quantity of a line, and the merchant's approval once packing started. It reaches the order
through the ordering core's service."""
