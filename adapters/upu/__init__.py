"""UPU formats: S10/S9 identifiers, ITMATT-style item data, CUSRSP-style customs responses, IPS exports."""
