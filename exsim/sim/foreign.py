"""Foreign X.400 systems: the X.400 connector to a foreign MTA.

A foreign X.400 system (a PTT's ADMD, another company's MTA) is reached by an X.400
Connector on a bridgehead whose address spaces cover the system's GDI. The local MTA
routes mail for the system's users to that connector by the GWART, as it routes
Internet mail to the IMS, but it transfers the mail itself: there is no MTS-OUT folder
and no store gateway thread on the way (so the store defects of the gateways,
KB Q166866 among them, never touch it). A transfer the foreign MTA refuses waits an
open interval and is tried again, up to the Override's max open retries; then the
MTA returns a congestion NDR (:func:`exsim.sim.gateways.gateway_settings`). The foreign
users' mail (sent by :class:`exsim.sim.workload.Workload`) comes in over the same
connector to the bridgehead's MTA, addressed to a mailbox's X.400 proxy.
"""

from __future__ import annotations

from typing import TYPE_CHECKING

from exsim import logs
from exsim.ndr import CONGESTION
from exsim.sim.gateways import Gateway

if TYPE_CHECKING:
    from exsim.scenario import ForeignX400Connector as ForeignX400ConnectorSpec


class ForeignX400Connector(Gateway):
    """An X.400 Connector to a foreign MTA, driven by the bridgehead's MTA."""

    service = "mta"
    component = "MSExchangeMTA"
    in_mta = True
    gives_up_with = CONGESTION
    report_generated = logs.REPORT_GENERATED  # the MTA itself gives up: its 34 and 43

    connector: ForeignX400ConnectorSpec
