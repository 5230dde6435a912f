"""`batch` processor: size- and time-triggered batching, split to a maximum size."""
