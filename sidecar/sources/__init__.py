"""Reading sources, one module per protocol, registered by URI scheme (see ``base``)."""
