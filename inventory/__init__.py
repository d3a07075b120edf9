"""The inventory: what resources the fleet's accounts hold (resources), how each kind is listed (collectors), and
where the listings are kept (store)."""
