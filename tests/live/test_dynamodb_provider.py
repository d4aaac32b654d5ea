"""DynamoDB served by moto inside LocalStack: what the reference systems use, through the real APIs.

Tables with GSIs and queries by index, TTL, point-in-time recovery, streams (described and read), and the
same through CloudFormation (LocalStack's AWS::DynamoDB::Table handler, with the PITR it ignores applied
by our start-up hook). DynamoDB-stream event source mappings are proven in test_lambda_executor.py.
"""

from __future__ import annotations

import json

import pytest

pytestmark = pytest.mark.live

ORDERS_TABLE = {
    "AttributeDefinitions": [{"AttributeName": "orderId", "AttributeType": "S"},
                             {"AttributeName": "customerId", "AttributeType": "S"},
                             {"AttributeName": "createdAt", "AttributeType": "S"}],
    "KeySchema": [{"AttributeName": "orderId", "KeyType": "HASH"}],
    "BillingMode": "PAY_PER_REQUEST",
    "GlobalSecondaryIndexes": [{
        "IndexName": "byCustomer",
        "KeySchema": [{"AttributeName": "customerId", "KeyType": "HASH"},
                      {"AttributeName": "createdAt", "KeyType": "RANGE"}],
        "Projection": {"ProjectionType": "ALL"},
    }],
    "StreamSpecification": {"StreamEnabled": True, "StreamViewType": "NEW_AND_OLD_IMAGES"},
}


@pytest.fixture
def orders(aws, unique):
    ddb = aws("dynamodb")
    name = unique("orders")
    ddb.create_table(TableName=name, **ORDERS_TABLE)
    yield name
    ddb.delete_table(TableName=name)


def test_table_with_a_gsi_is_queried_by_index(aws, orders):
    ddb = aws("dynamodb")
    rows = [("o1", "c1", "2026-01-01"), ("o2", "c1", "2026-01-02"), ("o3", "c2", "2026-01-03")]
    for order, customer, created in rows:
        ddb.put_item(TableName=orders, Item={"orderId": {"S": order}, "customerId": {"S": customer},
                                             "createdAt": {"S": created}, "amount": {"N": "10"}})

    found = ddb.query(TableName=orders, IndexName="byCustomer", KeyConditionExpression="customerId = :c",
                      ExpressionAttributeValues={":c": {"S": "c1"}}, ScanIndexForward=False)["Items"]
    assert [item["orderId"]["S"] for item in found] == ["o2", "o1"]
    table = ddb.describe_table(TableName=orders)["Table"]
    assert table["TableStatus"] == "ACTIVE"
    assert [index["IndexName"] for index in table["GlobalSecondaryIndexes"]] == ["byCustomer"]
    assert ddb.get_item(TableName=orders, Key={"orderId": {"S": "o3"}})["Item"]["customerId"] == {"S": "c2"}


def test_pitr_and_ttl_are_set_and_described(aws, orders):
    ddb = aws("dynamodb")
    assert ddb.describe_continuous_backups(TableName=orders)["ContinuousBackupsDescription"][
        "PointInTimeRecoveryDescription"]["PointInTimeRecoveryStatus"] == "DISABLED"
    ddb.update_continuous_backups(TableName=orders,
                                  PointInTimeRecoverySpecification={"PointInTimeRecoveryEnabled": True})
    ddb.update_time_to_live(TableName=orders, TimeToLiveSpecification={"Enabled": True, "AttributeName": "expiresAt"})

    backups = ddb.describe_continuous_backups(TableName=orders)["ContinuousBackupsDescription"]
    assert backups["PointInTimeRecoveryDescription"]["PointInTimeRecoveryStatus"] == "ENABLED"
    ttl = ddb.describe_time_to_live(TableName=orders)["TimeToLiveDescription"]
    assert ttl == {"TimeToLiveStatus": "ENABLED", "AttributeName": "expiresAt"}


def test_streams_are_described_and_read(aws, orders):
    ddb, streams = aws("dynamodb"), aws("dynamodbstreams")
    table = ddb.describe_table(TableName=orders)["Table"]
    assert table["StreamSpecification"] == {"StreamEnabled": True, "StreamViewType": "NEW_AND_OLD_IMAGES"}
    stream_arn = table["LatestStreamArn"]
    assert [s["StreamArn"] for s in streams.list_streams(TableName=orders)["Streams"]] == [stream_arn]

    ddb.put_item(TableName=orders, Item={"orderId": {"S": "o1"}, "customerId": {"S": "c1"},
                                         "createdAt": {"S": "2026-01-01"}})
    description = streams.describe_stream(StreamArn=stream_arn)["StreamDescription"]
    assert description["StreamStatus"] == "ENABLED" and description["TableName"] == orders
    iterator = streams.get_shard_iterator(StreamArn=stream_arn, ShardId=description["Shards"][0]["ShardId"],
                                          ShardIteratorType="TRIM_HORIZON")["ShardIterator"]
    records = streams.get_records(ShardIterator=iterator)["Records"]
    assert [r["eventName"] for r in records] == ["INSERT"]
    assert records[0]["dynamodb"]["NewImage"]["customerId"] == {"S": "c1"}


def table_template(name: str, pitr: bool) -> str:
    properties = {
        "TableName": name, **{k: v for k, v in ORDERS_TABLE.items() if k != "StreamSpecification"},
        "StreamSpecification": {"StreamViewType": "NEW_AND_OLD_IMAGES"},
        "TimeToLiveSpecification": {"AttributeName": "expiresAt", "Enabled": True},
        "PointInTimeRecoverySpecification": {"PointInTimeRecoveryEnabled": pitr,
                                             **({"RecoveryPeriodInDays": 14} if pitr else {})},
        "SSESpecification": {"SSEEnabled": True},
    }
    return json.dumps({
        "Resources": {"Orders": {"Type": "AWS::DynamoDB::Table", "Properties": properties}},
        "Outputs": {"StreamArn": {"Value": {"Fn::GetAtt": ["Orders", "StreamArn"]}},
                    "TableArn": {"Value": {"Fn::GetAtt": ["Orders", "Arn"]}}},
    })


@pytest.mark.parametrize("pitr", [True, False])
def test_cloudformation_creates_and_deletes_a_table_with_its_settings(aws, unique, pitr):
    cfn, ddb = aws("cloudformation"), aws("dynamodb")
    stack, table = unique("ddb-stack"), unique("cfn-orders")
    cfn.create_stack(StackName=stack, TemplateBody=table_template(table, pitr))
    cfn.get_waiter("stack_create_complete").wait(StackName=stack, WaiterConfig={"Delay": 1, "MaxAttempts": 60})

    outputs = {o["OutputKey"]: o["OutputValue"] for o in cfn.describe_stacks(StackName=stack)["Stacks"][0]["Outputs"]}
    described = ddb.describe_table(TableName=table)["Table"]
    assert outputs["TableArn"] == described["TableArn"] and outputs["StreamArn"] == described["LatestStreamArn"]
    assert described["GlobalSecondaryIndexes"][0]["IndexName"] == "byCustomer"
    recovery = ddb.describe_continuous_backups(TableName=table)["ContinuousBackupsDescription"]
    status = recovery["PointInTimeRecoveryDescription"]["PointInTimeRecoveryStatus"]
    assert status == ("ENABLED" if pitr else "DISABLED")
    assert ddb.describe_time_to_live(TableName=table)["TimeToLiveDescription"]["TimeToLiveStatus"] == "ENABLED"

    cfn.delete_stack(StackName=stack)
    cfn.get_waiter("stack_delete_complete").wait(StackName=stack, WaiterConfig={"Delay": 1, "MaxAttempts": 60})
    assert table not in ddb.list_tables()["TableNames"]


def test_tables_have_a_stable_table_id(aws, orders):
    """DynamoDB gives every table a TableId; LocalStack's GlobalTable handler reads it from create_table."""
    ddb = aws("dynamodb")
    described = ddb.describe_table(TableName=orders)["Table"]
    assert len(described["TableId"]) == 36 and ddb.describe_table(TableName=orders)["Table"]["TableId"] == \
        described["TableId"]


def test_cloudformation_creates_a_global_table_with_a_replica(aws, unique):
    cfn, ddb = aws("cloudformation"), aws("dynamodb")
    stack, table = unique("global-stack"), unique("payments")
    template = {"Resources": {"Payments": {"Type": "AWS::DynamoDB::GlobalTable", "Properties": {
        "TableName": table,
        "AttributeDefinitions": [{"AttributeName": "paymentId", "AttributeType": "S"}],
        "KeySchema": [{"AttributeName": "paymentId", "KeyType": "HASH"}],
        "BillingMode": "PAY_PER_REQUEST",
        "StreamSpecification": {"StreamViewType": "NEW_AND_OLD_IMAGES"},
        "Replicas": [{"Region": "us-east-1", "PointInTimeRecoverySpecification": {"PointInTimeRecoveryEnabled": True}},
                     {"Region": "us-west-2"}],
    }}}, "Outputs": {"TableId": {"Value": {"Fn::GetAtt": ["Payments", "TableId"]}}}}
    cfn.create_stack(StackName=stack, TemplateBody=json.dumps(template))
    cfn.get_waiter("stack_create_complete").wait(StackName=stack, WaiterConfig={"Delay": 1, "MaxAttempts": 60})
    outputs = {o["OutputKey"]: o["OutputValue"] for o in cfn.describe_stacks(StackName=stack)["Stacks"][0]["Outputs"]}
    assert outputs["TableId"] == ddb.describe_table(TableName=table)["Table"]["TableId"]
    recovery = ddb.describe_continuous_backups(TableName=table)["ContinuousBackupsDescription"]
    assert recovery["PointInTimeRecoveryDescription"]["PointInTimeRecoveryStatus"] == "ENABLED"
    cfn.delete_stack(StackName=stack)
    cfn.get_waiter("stack_delete_complete").wait(StackName=stack, WaiterConfig={"Delay": 1, "MaxAttempts": 60})
