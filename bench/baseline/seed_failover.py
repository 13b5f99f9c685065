# The naive baseline: the failover Lambda from the how-to this project started
# from, unchanged, so the benchmarks compare against what it actually does.
import boto3
import time

def failover_efs(event, context):
    """
    Automated EFS failover procedure.
    Triggered by a manual invoke or a health check failure.
    """
    source_fs_id = event['source_file_system_id']
    source_region = event['source_region']
    dest_region = event['dest_region']
    dest_subnets = event['dest_subnets']
    dest_security_group = event['dest_security_group']

    # Step 1: Get the destination file system ID
    efs_source = boto3.client('efs', region_name=source_region)
    replication = efs_source.describe_replication_configurations(
        FileSystemId=source_fs_id
    )
    dest_fs_id = replication['Replications'][0]['Destinations'][0]['FileSystemId']
    print(f"Destination file system: {dest_fs_id}")

    # Step 2: Delete replication (promotes replica)
    try:
        efs_source.delete_replication_configuration(
            SourceFileSystemId=source_fs_id
        )
        print("Replication deleted, replica promotion started")
    except Exception as e:
        print(f"Error deleting replication (source may be down): {e}")
        # If source region is down, we may need to delete from dest side
        efs_dest = boto3.client('efs', region_name=dest_region)
        efs_dest.delete_replication_configuration(
            SourceFileSystemId=source_fs_id
        )

    # Step 3: Wait for file system to be available
    efs_dest = boto3.client('efs', region_name=dest_region)
    while True:
        fs = efs_dest.describe_file_systems(FileSystemId=dest_fs_id)
        state = fs['FileSystems'][0]['LifeCycleState']
        if state == 'available':
            break
        print(f"Waiting for file system... Current state: {state}")
        time.sleep(10)

    # Step 4: Create mount targets
    existing_mts = efs_dest.describe_mount_targets(FileSystemId=dest_fs_id)
    existing_subnets = {mt['SubnetId'] for mt in existing_mts['MountTargets']}

    for subnet in dest_subnets:
        if subnet not in existing_subnets:
            efs_dest.create_mount_target(
                FileSystemId=dest_fs_id,
                SubnetId=subnet,
                SecurityGroups=[dest_security_group]
            )
            print(f"Created mount target in {subnet}")

    print(f"Failover complete. New file system: {dest_fs_id}")
    return {
        'statusCode': 200,
        'dest_file_system_id': dest_fs_id,
        'dest_region': dest_region
    }
