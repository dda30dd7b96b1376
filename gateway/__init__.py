"""nvs-gateway: the SOAP/XML gateway of the Student Register (Mokinių registras) for NVŠ."""
