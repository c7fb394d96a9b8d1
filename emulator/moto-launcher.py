"""moto_server as Phoenix's emulated account: moto 5.2.1, corrected where AWS differs in a way
Phoenix depends on, and (with --scale) made fast enough for a 10,000-instance account.

One launcher for the tests, the demo and the benchmarks (emulator/moto-process.ts starts
it). It patches moto in-process, then runs moto's own server main with the remaining
arguments. docs/emulator.md lists every known difference between moto and AWS and whether it
is corrected here; test/emulator/corrections.test.ts proves each correction.

Corrections (always on), each following the AWS page cited at it:

1. A member that leaves its Auto Scaling group (DetachInstances, TerminateInstanceInAutoScaling
   Group, a scale-in) is deregistered from the group's target groups. moto leaves it listed.
2. The group registers a member with its target groups once, when it joins (launched,
   attached, back from Standby); a member entering Standby is deregistered. moto registers
   every member, Standby or not, again whenever the group scales, undoing a deregistration
   made by hand.
3. An image id written `resolve:ssm:NAME` (in RunInstances or a launch template) is resolved
   from Systems Manager at launch, and the instance carries the AMI id. moto launches an
   instance whose image id is the literal text.
4. DescribeInstances counts MaxResults in instances, as EC2 does; moto counts reservations.
5. DeregisterTargets of an instance that is not registered (any more) succeeds and changes
   nothing, as ELB does; moto answers InvalidTarget. A group that detached a member has
   already deregistered it when Phoenix drains it.
6. DynamoDB requests take effect one at a time: DynamoDB evaluates a conditional write (a put,
   an update, a delete, a whole transaction) atomically ("Condition expressions",
   "TransactWriteItems" in the DynamoDB Developer Guide), while moto's threaded server holds
   no lock there and two simultaneous conditional puts on one key can both succeed. Every
   DynamoDB request runs under one lock; every other service runs as moto runs it.
7. An Auto Scaling group spreads the instances it launches across the Availability Zones of
   its subnets, each launch going to the zone with the fewest members ("Auto Scaling group
   Availability Zone distribution": it "maintains an equal number of instances across enabled
   Availability Zones"). moto launches every member in the group's first subnet.

With --scale (the benchmarks): the tag, instance and volume lookups that moto answers by
scanning the whole account become direct reads returning exactly the same objects. A
DescribeInstances or RunInstances over N instances otherwise costs O(N x account size).

Usage: python3 emulator/moto-launcher.py [--scale] -H 127.0.0.1 -p PORT
"""

import copy
import sys
import threading

from moto.autoscaling.models import AutoScalingBackend, FakeAutoScalingGroup
from moto.core.responses import ActionResult
from moto.dynamodb.responses import DynamoHandler
from moto.ec2.exceptions import InvalidInstanceIdError, InvalidParameterCombination, InvalidParameterValue
from moto.ec2.models.core import TaggedEC2Resource
from moto.ec2.models.elastic_block_store import EBSBackend
from moto.ec2.models.instances import Instance, InstanceBackend
from moto.ec2.responses.instances import InstanceResponse
from moto.ec2.utils import EC2_PREFIX_TO_RESOURCE, get_prefix
from moto.elbv2.exceptions import InvalidTargetError
from moto.elbv2.models import FakeTargetGroup
from moto.server import main
from moto.ssm.models import ssm_backends

# ---- 1 and 2: target groups follow the group's InService members -----------------------------


def _registered_by_group(group):  # type: ignore[no-untyped-def]
    """Per target group ARN, the members the group itself registered there."""
    return group.__dict__.setdefault("_phoenix_registered", {})


def _deregister_from_group_target_groups(backend, group, instance_ids):  # type: ignore[no-untyped-def]
    """Removes the instances from every target group attached to the group (those registered)."""
    if not instance_ids:
        return
    registered_by_group = _registered_by_group(group)
    for arn in group.target_group_arns:
        registered_by_group.get(arn, set()).difference_update(instance_ids)
        target_group = backend.elbv2_backend.target_groups.get(arn)
        if target_group is None:
            continue
        registered = [{"Id": i} for i in instance_ids if i in target_group.targets]
        if registered:
            target_group.deregister(registered)


def _update_attached_target_groups(self, group_name):  # type: ignore[no-untyped-def]
    # https://docs.aws.amazon.com/autoscaling/ec2/userguide/attach-load-balancer-asg.html: the
    # group registers an instance with its target groups when it launches or attaches it, and
    # https://docs.aws.amazon.com/autoscaling/ec2/userguide/as-enter-exit-standby.html: an
    # instance entering Standby is deregistered, and registered again when it exits. moto
    # instead registers every member, Standby or not, again at every scaling event (undoing a
    # deregistration made by hand).
    group = self.autoscaling_groups[group_name]
    if not group.target_group_arns:
        return
    in_service = [s.instance.id for s in group.instance_states if s.lifecycle_state == "InService"]
    standby = [s.instance.id for s in group.instance_states if s.lifecycle_state != "InService"]
    _deregister_from_group_target_groups(self, group, standby)
    registered_by_group = _registered_by_group(group)
    target_groups = self.elbv2_backend.describe_target_groups(
        target_group_arns=group.target_group_arns, load_balancer_arn=None, names=None
    )
    for target_group in target_groups:
        done = registered_by_group.setdefault(target_group.arn, set())
        joining = [i for i in in_service if i not in done]
        if joining:
            self.elbv2_backend.register_targets(
                target_group.arn, [{"Id": i, "Port": target_group.port} for i in joining]
            )
            done.update(joining)


_detach_instances = AutoScalingBackend.detach_instances


def _detach_instances_deregistering(self, group_name, instance_ids, should_decrement):  # type: ignore[no-untyped-def]
    # https://docs.aws.amazon.com/autoscaling/ec2/APIReference/API_DetachInstances.html:
    # "If there are target groups attached to the Auto Scaling group, the instances are
    # deregistered from the target groups." TerminateInstanceInAutoScalingGroup detaches
    # through here too. (moto already removes the aws:autoscaling:groupName tag, as AWS does.)
    group = self.autoscaling_groups[group_name]
    leaving = [s.instance.id for s in group.instance_states if s.instance.id in instance_ids]
    activities = _detach_instances(self, group_name, instance_ids, should_decrement)
    _deregister_from_group_target_groups(self, group, leaving)
    return activities


_set_group_desired_capacity = FakeAutoScalingGroup.set_desired_capacity


def _set_group_desired_capacity_deregistering(self, new_capacity):  # type: ignore[no-untyped-def]
    # https://docs.aws.amazon.com/autoscaling/ec2/userguide/attach-load-balancer-asg.html:
    # an instance the group terminates on scale-in is deregistered from its target groups
    # first (after the deregistration delay, which the emulator does not model).
    before = {s.instance.id for s in self.instance_states}
    _set_group_desired_capacity(self, new_capacity)
    after = {s.instance.id for s in self.instance_states}
    _deregister_from_group_target_groups(self.autoscaling_backend, self, sorted(before - after))


# ---- 3: resolve:ssm: image ids ----------------------------------------------------------------

SSM_PREFIX = "resolve:ssm:"


def _resolve_image_id(ec2_backend, image_id):  # type: ignore[no-untyped-def]
    # https://docs.aws.amazon.com/AWSEC2/latest/UserGuide/using-systems-manager-parameter-to-find-AMI.html:
    # "resolve:ssm:parameter-name[:version|:label]" names a parameter whose value is an AMI id,
    # resolved when the instance launches.
    if not image_id or not image_id.startswith(SSM_PREFIX):
        return image_id
    name = image_id[len(SSM_PREFIX) :]
    backend = ssm_backends[ec2_backend.account_id][ec2_backend.region_name]
    parameter = backend.get_parameter(name)
    if parameter is None:
        raise InvalidParameterValue(f"Unable to resolve the Systems Manager parameter {name} to an image id")
    return parameter.value


_instance_init = Instance.__init__


def _instance_init_resolving(self, ec2_backend, image_id, user_data, security_groups, **kwargs):  # type: ignore[no-untyped-def]
    template = kwargs.get("launch_template")
    if not image_id and template:
        image_id = ec2_backend._get_template_from_args(template).image_id
    _instance_init(
        self, ec2_backend, _resolve_image_id(ec2_backend, image_id), user_data, security_groups, **kwargs
    )


_run_instances = InstanceBackend.run_instances


def _run_instances_resolving(self, image_id, count, user_data, security_group_names, **kwargs):  # type: ignore[no-untyped-def]
    # Resolved before moto's own AMI validation (MOTO_ENABLE_AMI_VALIDATION), as EC2 validates
    # the image the parameter names, not the parameter's text.
    return _run_instances(
        self, _resolve_image_id(self, image_id), count, user_data, security_group_names, **kwargs
    )


# ---- 4: DescribeInstances pages by instances ---------------------------------------------------


def _describe_instances_paged_by_instance(self):  # type: ignore[no-untyped-def]
    # https://docs.aws.amazon.com/AWSEC2/latest/APIReference/API_DescribeInstances.html:
    # MaxResults is "the maximum number of items to return", and items are instances; a
    # reservation is split across pages when it must be.
    self.error_on_dryrun()
    if "InstanceId.1" in self.data and "MaxResults" in self.data:
        raise InvalidParameterCombination(
            "The parameter instancesSet cannot be used with the parameter maxResults"
        )
    filter_dict = self._filters_from_querystring()
    instance_ids = self._get_param("InstanceIds", [])
    if instance_ids:
        reservations = self.ec2_backend.get_reservations_by_instance_ids(instance_ids, filters=filter_dict)
    else:
        reservations = self.ec2_backend.describe_instances(filters=filter_dict)
    max_results = self._get_param("MaxResults")
    if max_results is None:
        return ActionResult({"Reservations": reservations, "NextToken": None})
    token = self._get_param("NextToken")
    start = int(token) if token else 0
    end = start + int(max_results)
    page = []
    seen = 0
    for reservation in reservations:
        count = len(reservation.instances)
        low, high = max(start - seen, 0), min(end - seen, count)
        if low < high:
            part = copy.copy(reservation)
            part.instances = reservation.instances[low:high]
            page.append(part)
        seen += count
    return ActionResult({"Reservations": page, "NextToken": str(end) if seen > end else None})


# ---- 5: deregistering what is not registered ---------------------------------------------------


def _deregister_registered(self, targets):  # type: ignore[no-untyped-def]
    # https://docs.aws.amazon.com/elasticloadbalancing/latest/APIReference/API_DeregisterTargets.html:
    # InvalidTarget is for a target that "does not exist, is not in the same VPC as the target
    # group, or has an unsupported instance type"; ELB answers 200 for an existing instance that
    # is not registered, and changes nothing.
    for target in targets:
        registered = self.targets.pop(target["Id"], None)
        if registered is not None:
            self.deregistered_targets[target["Id"]] = registered
        elif self.ec2_backend.get_instance_by_id(target["Id"]) is None:
            raise InvalidTargetError()


# ---- --scale: direct lookups -------------------------------------------------------------------


def _get_tags(self):  # type: ignore[no-untyped-def]
    resource_id = getattr(self, "id", None)
    if not resource_id:
        return []
    # .get, not [...]: the backend's tags are a defaultdict and a read must not add a key.
    tags = self.ec2_backend.tags.get(resource_id)
    if not tags:
        return []
    resource_type = EC2_PREFIX_TO_RESOURCE.get(get_prefix(resource_id), "")
    return [
        {"resource_id": resource_id, "key": key, "value": value, "resource_type": resource_type}
        for key, value in tags.items()
    ]


def _get_instance(self, instance_id):  # type: ignore[no-untyped-def]
    # Newest reservation first: the instance asked for is almost always one just launched.
    for reservation in reversed(self.reservations.values()):
        for instance in reservation.instances:
            if instance.id == instance_id:
                return instance
    raise InvalidInstanceIdError(instance_id)


_describe_volumes = EBSBackend.describe_volumes


def _describe_volumes_direct(self, volume_ids=None, filters=None):  # type: ignore[no-untyped-def]
    if volume_ids and len(volume_ids) == 1 and not filters and volume_ids[0] in self.volumes:
        return [self.volumes[volume_ids[0]]]
    return _describe_volumes(self, volume_ids, filters)


# ---- 6: one DynamoDB request at a time --------------------------------------------------------

_dynamodb_lock = threading.Lock()
_dynamodb_call_action = DynamoHandler.call_action


def _dynamodb_call_action_atomically(self):  # type: ignore[no-untyped-def]
    with _dynamodb_lock:
        return _dynamodb_call_action(self)


# ---- 7: a group's launches balanced across its Availability Zones -----------------------------

_replace_group_instances = FakeAutoScalingGroup.replace_autoscaling_group_instances


def _replace_instances_balanced(self, count_needed, propagated_tags):  # type: ignore[no-untyped-def]
    # https://docs.aws.amazon.com/autoscaling/ec2/userguide/ec2-auto-scaling-availability-zone-balanced.html:
    # the group "maintains an equal number of instances across enabled Availability Zones", so
    # each launch goes to the zone with the fewest members (ties: the subnets' order). moto
    # launches in the first subnet only; it is asked here once per zone, its first subnet
    # being that zone's for the call.
    subnet_ids = [s for s in (self.vpc_zone_identifier or "").split(",") if s]
    if len(subnet_ids) < 2 or count_needed <= 0:
        return _replace_group_instances(self, count_needed, propagated_tags)
    ec2 = self.autoscaling_backend.ec2_backend
    zone_of = {subnet_id: ec2.get_subnet(subnet_id).availability_zone for subnet_id in subnet_ids}
    first_subnet = {}
    for subnet_id in subnet_ids:
        first_subnet.setdefault(zone_of[subnet_id], subnet_id)
    members = {zone: 0 for zone in first_subnet}
    for state in self.instance_states:
        zone = state.instance.availability_zone
        if zone in members:
            members[zone] += 1
    launches = {zone: 0 for zone in first_subnet}
    for _ in range(count_needed):
        zone = min(first_subnet, key=lambda z: members[z] + launches[z])
        launches[zone] += 1
    original = self.vpc_zone_identifier
    try:
        for zone, count in launches.items():
            if count == 0:
                continue
            rest = [s for s in subnet_ids if s != first_subnet[zone]]
            self.vpc_zone_identifier = ",".join([first_subnet[zone], *rest])
            _replace_group_instances(self, count, dict(propagated_tags))
    finally:
        self.vpc_zone_identifier = original


def correct() -> None:
    """The corrections every emulated account gets."""
    AutoScalingBackend.update_attached_target_groups = _update_attached_target_groups
    AutoScalingBackend.detach_instances = _detach_instances_deregistering
    FakeAutoScalingGroup.set_desired_capacity = _set_group_desired_capacity_deregistering
    Instance.__init__ = _instance_init_resolving
    InstanceBackend.run_instances = _run_instances_resolving
    InstanceResponse.describe_instances = _describe_instances_paged_by_instance
    FakeTargetGroup.deregister = _deregister_registered
    DynamoHandler.call_action = _dynamodb_call_action_atomically
    FakeAutoScalingGroup.replace_autoscaling_group_instances = _replace_instances_balanced


def scale() -> None:
    """Direct lookups for a 10,000-instance account (same objects, no scans)."""
    TaggedEC2Resource.get_tags = _get_tags
    InstanceBackend.get_instance = _get_instance
    EBSBackend.describe_volumes = _describe_volumes_direct


if __name__ == "__main__":
    arguments = sys.argv[1:]
    correct()
    if "--scale" in arguments:
        arguments.remove("--scale")
        scale()
    main(arguments)
