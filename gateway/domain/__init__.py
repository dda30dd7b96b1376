"""The register's business rules. Imports nothing from SOAP, XML or SQL libraries."""
