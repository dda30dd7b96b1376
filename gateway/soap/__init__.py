"""The SOAP adapter: Spyne wire types, the service, and the contract-first application."""
