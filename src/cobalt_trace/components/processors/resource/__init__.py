"""`resource` processor: attribute actions on each ResourceSpans' resource."""
