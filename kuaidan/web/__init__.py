"""Templates and static files shared by every area's pages."""
