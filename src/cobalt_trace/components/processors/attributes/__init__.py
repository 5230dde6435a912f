"""`attributes` processor: attribute actions on matching spans."""
