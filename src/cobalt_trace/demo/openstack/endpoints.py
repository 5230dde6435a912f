"""RPC endpoints and notification listeners of the simulated services: what nova-conductor,
nova-scheduler, nova-compute, neutron-server's plugin, the OVS agent and the HA agent do with a
message, with the RPCs and HTTP calls they make in turn."""

from __future__ import annotations

from cobalt_trace_openstack import trace

from . import rpc
from .runtime import Runtime

__all__ = ["Conductor", "Scheduler", "Compute", "NeutronPlugin", "OvsAgent", "HaAgent"]

_STATUS_CALL_TIMEOUT = 10.0


class Conductor:
    def __init__(self, rt: Runtime):
        self.rt = rt

    def schedule_and_build_instances(self, ctxt, instance, port_id, fault=""):
        rt = self.rt
        scheduler = rt.client(rpc.TOPIC_SCHEDULER).prepare(timeout=_STATUS_CALL_TIMEOUT)
        host = scheduler.call(ctxt, "select_destinations", spec={"vcpus": 2, "memory_mb": 4096})
        with trace(
            "conductor.create_block_device_mappings", attributes={"nova.instance_id": instance["uuid"]}
        ):
            rt.work(3, 10)
        rt.client(rpc.TOPIC_COMPUTE, server=host).cast(
            ctxt, "build_and_run_instance", instance=instance, port_id=port_id, fault=fault
        )

    def instance_update(self, ctxt, instance_id, vm_state):
        self.rt.work(2, 8)  # the database write nova-compute cannot do itself
        return {"uuid": instance_id, "vm_state": vm_state}


class Scheduler:
    def __init__(self, rt: Runtime):
        self.rt = rt

    def select_destinations(self, ctxt, spec):
        with trace(
            "placement.allocation_candidates", attributes={"placement.resources": "VCPU:2,MEMORY_MB:4096"}
        ):
            self.rt.work(10, 30)
        with trace("scheduler.filter_and_weigh_hosts"):
            self.rt.work(3, 12)
        return self.rt.topology.hypervisor_host


class Compute:
    def __init__(self, rt: Runtime, notifier):
        self.rt = rt
        self.notifier = notifier

    def build_and_run_instance(self, ctxt, instance, port_id, fault=""):
        rt, host = self.rt, self.rt.topology.hypervisor_host
        with trace("compute.claim_resources", attributes={"nova.instance_id": instance["uuid"]}):
            rt.work(3, 10)
        binding = {"port": {"binding:host_id": host, "device_id": instance["uuid"]}}
        rt.http("PUT", "neutron-server", f"/v2.0/ports/{port_id}", ctxt.auth_token, json=binding)
        with trace("libvirt.spawn", attributes={"nova.instance_id": instance["uuid"]}):
            rt.work(60, 160)
        self.notifier.info(ctxt, "instance.create.end", {"instance_id": instance["uuid"], "host": host})
        # The status goes back through the conductor: nova-compute has no database access.
        rt.client(rpc.TOPIC_CONDUCTOR).prepare(timeout=_STATUS_CALL_TIMEOUT).call(
            ctxt, "instance_update", instance_id=instance["uuid"], vm_state="active"
        )

    def reserve_block_device_name(self, ctxt, instance_id, fault=""):
        # `timeout`: the hypervisor is busy and answers after nova-api gave up.
        self.rt.work(1500, 1700) if fault == "timeout" else self.rt.work(3, 12)
        return "/dev/vdb"

    def attach_volume(self, ctxt, instance_id, volume_id, device):
        rt = self.rt
        project = ctxt.project_id or "0" * 32
        rt.http("POST", "cinder-api", f"/v3/{project}/attachments", ctxt.auth_token, json={"attachment": {}})
        with trace("os_brick.connect_volume", attributes={"cinder.volume_id": volume_id, "device": device}):
            rt.work(30, 90)
        self.notifier.info(
            ctxt, "instance.volume_attach.end", {"instance_id": instance_id, "volume_id": volume_id}
        )

    def terminate_instance(self, ctxt, instance_id, port_id, fault=""):
        rt = self.rt
        with trace("libvirt.destroy", attributes={"nova.instance_id": instance_id}):
            rt.work(20, 60)
            if fault == "error":
                raise RuntimeError("libvirtError: Failed to terminate process 4711 with SIGKILL: Device busy")
        rt.http("DELETE", "neutron-server", f"/v2.0/ports/{port_id}", ctxt.auth_token, fault=fault)
        self.notifier.info(ctxt, "instance.delete.end", {"instance_id": instance_id})

    def external_instance_event(self, ctxt, instance_id, name):
        self.rt.work(1, 5)


class NeutronPlugin:
    """neutron-server's ML2 plugin RPC (`q-plugin`): agents report devices up."""

    def __init__(self, rt: Runtime):
        self.rt = rt

    def update_device_up(self, ctxt, device, host, instance_id):
        rt = self.rt
        with trace(
            "ml2.update_port_status", attributes={"neutron.port_id": device, "neutron.status": "ACTIVE"}
        ):
            rt.work(3, 10)
        # Neutron tells Nova the VIF is plugged (os-server-external-events).
        event = {"name": "network-vif-plugged", "server_uuid": instance_id, "tag": device}
        rt.http(
            "POST", "nova-api", "/v2.1/os-server-external-events", ctxt.auth_token, json={"events": [event]}
        )


class OvsAgent:
    """neutron-openvswitch-agent: port updates and deletions fanned out by neutron-server."""

    def __init__(self, rt: Runtime):
        self.rt = rt

    def port_update(self, ctxt, port_id, host, instance_id):
        rt = self.rt
        with trace("ovs.treat_devices_added_or_updated", attributes={"neutron.port_id": port_id}):
            rt.work(2, 6)
            with trace("ovs.bind_port", attributes={"ovs.bridge": "br-int", "ovs.vlan": 1042}):
                rt.work(15, 45)
        rt.client(rpc.TOPIC_PLUGIN).prepare(timeout=_STATUS_CALL_TIMEOUT).call(
            ctxt, "update_device_up", device=port_id, host=host, instance_id=instance_id
        )

    def port_delete(self, ctxt, port_id, fault=""):
        with trace("ovs.unbind_port", attributes={"neutron.port_id": port_id, "ovs.bridge": "br-int"}):
            self.rt.work(10, 30)


class HaAgent:
    """The HA agent follows nova's versioned notifications to know which instances to protect."""

    def __init__(self, rt: Runtime):
        self.rt = rt

    def info(self, ctxt, publisher_id, event_type, payload, metadata):
        instance_id = (payload or {}).get("instance_id", "")
        if event_type == "instance.create.end":
            with trace("ha.register_instance", attributes={"nova.instance_id": instance_id}):
                self.rt.work(2, 8)
        elif event_type == "instance.delete.end":
            with trace("ha.unregister_instance", attributes={"nova.instance_id": instance_id}):
                self.rt.work(2, 8)
