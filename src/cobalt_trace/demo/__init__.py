"""The all-in-one demo: the seed topology on one machine with a simulated OpenStack workload."""
