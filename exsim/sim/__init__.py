"""The SimPy model of an Exchange 5.0 organization.

One module per domain noun: :mod:`message` (messages, recipients, envelopes),
:mod:`store` (the Information Store), :mod:`mta` (the Message Transfer Agent
and its queues per next hop), :mod:`gateways` (IMS, MS Mail Connector and the
foreign systems behind them), :mod:`workload` (users sending mail) and
:mod:`model` (wires one replication together and runs it).
"""

from exsim.sim.model import RunResult, simulate

__all__ = ["RunResult", "simulate"]
