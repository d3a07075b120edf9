"""The fleet tool set as one provider."""

from fleet.inventory_tools import InventoryTools
from fleet.tools import FleetTools


class Fleet(InventoryTools, FleetTools):
    """fleet_query, fleet_results, refresh_inventory, query_inventory, inventory_status on one instance, so they share
    `FleetBase`'s caches and token buckets."""
