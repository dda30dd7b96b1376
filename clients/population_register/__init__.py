"""The population register (Gyventojų registras, GR): the SOAP client, the sandbox and a fake.

* ``client.ZeepPopulationRegister``: the real client (zeep, ``wsdl/population-register-v1.wsdl``).
* ``sandbox.build_sandbox_app``: a Spyne implementation of that WSDL with synthetic people.
* ``fake.InMemoryPopulationRegister``: a fake for unit tests.

Import the submodule you need; this package imports none of them, so that using the
fake does not load zeep or Spyne.
"""
