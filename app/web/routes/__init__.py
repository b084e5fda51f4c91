"""The API's routers: public, team, market data, admin."""
