"""WCO formats: the e-commerce dataset as JSON keyed by WCO data model names and ids."""
