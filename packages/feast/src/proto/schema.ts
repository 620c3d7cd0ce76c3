import protobuf from 'protobufjs';

// Regatta's own description of the Feast messages it reads and writes, from Feast's published field numbers.
// Only the fields Regatta uses are declared: unknown fields are skipped when decoding, so registries written
// by Feast itself (with many more fields) still parse.
const scalarList = (type: string) => ({ fields: { val: { rule: 'repeated', type, id: 1 } } });
const timeLike = { fields: { seconds: { type: 'int64', id: 1 }, nanos: { type: 'int32', id: 2 } } };
// Entity, FeatureView and Project metadata all start with created (1) and last updated (2) timestamps.
const metaTimes = {
  fields: {
    createdTimestamp: { type: 'google.protobuf.Timestamp', id: 1 },
    lastUpdatedTimestamp: { type: 'google.protobuf.Timestamp', id: 2 },
  },
};

const descriptor = {
  nested: {
    google: { nested: { protobuf: { nested: { Timestamp: timeLike, Duration: timeLike } } } },
    feast: {
      nested: {
        types: {
          nested: {
            Null: { values: { NULL: 0 } },
            BytesList: scalarList('bytes'),
            StringList: scalarList('string'),
            Int32List: scalarList('int32'),
            Int64List: scalarList('int64'),
            DoubleList: scalarList('double'),
            FloatList: scalarList('float'),
            BoolList: scalarList('bool'),
            Value: {
              oneofs: {
                val: {
                  oneof: [
                    'bytesVal',
                    'stringVal',
                    'int32Val',
                    'int64Val',
                    'doubleVal',
                    'floatVal',
                    'boolVal',
                    'unixTimestampVal',
                    'bytesListVal',
                    'stringListVal',
                    'int32ListVal',
                    'int64ListVal',
                    'doubleListVal',
                    'floatListVal',
                    'boolListVal',
                    'unixTimestampListVal',
                    'nullVal',
                  ],
                },
              },
              fields: {
                bytesVal: { type: 'bytes', id: 1 },
                stringVal: { type: 'string', id: 2 },
                int32Val: { type: 'int32', id: 3 },
                int64Val: { type: 'int64', id: 4 },
                doubleVal: { type: 'double', id: 5 },
                floatVal: { type: 'float', id: 6 },
                boolVal: { type: 'bool', id: 7 },
                unixTimestampVal: { type: 'int64', id: 8 },
                bytesListVal: { type: 'BytesList', id: 11 },
                stringListVal: { type: 'StringList', id: 12 },
                int32ListVal: { type: 'Int32List', id: 13 },
                int64ListVal: { type: 'Int64List', id: 14 },
                doubleListVal: { type: 'DoubleList', id: 15 },
                floatListVal: { type: 'FloatList', id: 16 },
                boolListVal: { type: 'BoolList', id: 17 },
                unixTimestampListVal: { type: 'Int64List', id: 18 },
                nullVal: { type: 'Null', id: 19 },
              },
            },
            EntityKey: {
              fields: {
                joinKeys: { rule: 'repeated', type: 'string', id: 1 },
                entityValues: { rule: 'repeated', type: 'Value', id: 2 },
              },
            },
          },
        },
        core: {
          nested: {
            Registry: {
              fields: {
                entities: { rule: 'repeated', type: 'Entity', id: 1 },
                registrySchemaVersion: { type: 'string', id: 3 },
                versionId: { type: 'string', id: 4 },
                lastUpdated: { type: 'google.protobuf.Timestamp', id: 5 },
                featureViews: { rule: 'repeated', type: 'FeatureView', id: 6 },
                featureServices: { rule: 'repeated', type: 'FeatureService', id: 7 },
                onDemandFeatureViews: { rule: 'repeated', type: 'OnDemandFeatureView', id: 8 },
                dataSources: { rule: 'repeated', type: 'DataSource', id: 12 },
                projects: { rule: 'repeated', type: 'Project', id: 17 },
              },
            },
            Project: {
              fields: { spec: { type: 'ProjectSpec', id: 1 }, meta: { type: 'ObjectMeta', id: 2 } },
            },
            ProjectSpec: {
              fields: { name: { type: 'string', id: 1 }, description: { type: 'string', id: 2 } },
            },
            Entity: {
              fields: { spec: { type: 'EntitySpecV2', id: 1 }, meta: { type: 'ObjectMeta', id: 2 } },
            },
            EntitySpecV2: {
              fields: {
                name: { type: 'string', id: 1 },
                valueType: { type: 'int32', id: 2 },
                description: { type: 'string', id: 3 },
                joinKey: { type: 'string', id: 4 },
                project: { type: 'string', id: 9 },
              },
            },
            ObjectMeta: metaTimes,
            FeatureSpecV2: {
              fields: { name: { type: 'string', id: 1 }, valueType: { type: 'int32', id: 2 } },
            },
            FeatureView: {
              fields: { spec: { type: 'FeatureViewSpec', id: 1 }, meta: { type: 'ObjectMeta', id: 2 } },
            },
            FeatureViewSpec: {
              fields: {
                name: { type: 'string', id: 1 },
                project: { type: 'string', id: 2 },
                entities: { rule: 'repeated', type: 'string', id: 3 },
                features: { rule: 'repeated', type: 'FeatureSpecV2', id: 4 },
                ttl: { type: 'google.protobuf.Duration', id: 6 },
                batchSource: { type: 'DataSource', id: 7 },
                online: { type: 'bool', id: 8 },
                streamSource: { type: 'DataSource', id: 9 },
                description: { type: 'string', id: 10 },
                entityColumns: { rule: 'repeated', type: 'FeatureSpecV2', id: 12 },
                disabled: { type: 'bool', id: 20 },
              },
            },
            DataSource: {
              fields: {
                type: { type: 'int32', id: 1 },
                timestampField: { type: 'string', id: 3 },
                createdTimestampColumn: { type: 'string', id: 5 },
                fileOptions: { type: 'FileOptions', id: 11 },
                name: { type: 'string', id: 20 },
                project: { type: 'string', id: 21 },
                pushOptions: { type: 'PushOptions', id: 22 },
                batchSource: { type: 'DataSource', id: 26 },
              },
            },
            FileOptions: { fields: { uri: { type: 'string', id: 2 } } },
            PushOptions: { fields: {} },
            FeatureService: { fields: { spec: { type: 'FeatureServiceSpec', id: 1 } } },
            FeatureServiceSpec: {
              fields: {
                name: { type: 'string', id: 1 },
                project: { type: 'string', id: 2 },
                features: { rule: 'repeated', type: 'FeatureViewProjection', id: 3 },
                description: { type: 'string', id: 5 },
              },
            },
            FeatureViewProjection: {
              fields: {
                featureViewName: { type: 'string', id: 1 },
                featureColumns: { rule: 'repeated', type: 'FeatureSpecV2', id: 2 },
                featureViewNameAlias: { type: 'string', id: 3 },
                joinKeyMap: { keyType: 'string', type: 'string', id: 4 },
              },
            },
            OnDemandFeatureView: { fields: { spec: { type: 'OnDemandFeatureViewSpec', id: 1 } } },
            OnDemandFeatureViewSpec: {
              fields: { name: { type: 'string', id: 1 }, project: { type: 'string', id: 2 } },
            },
          },
        },
      },
    },
  },
};

/** The protobuf root holding Regatta's definitions of Feast's messages. */
export const feastProtoRoot: protobuf.Root = protobuf.Root.fromJSON(descriptor);

/** `feast.types.Value`. */
export const ValueMessage = feastProtoRoot.lookupType('feast.types.Value');
/** `feast.types.EntityKey`. */
export const EntityKeyMessage = feastProtoRoot.lookupType('feast.types.EntityKey');
/** `google.protobuf.Timestamp`. */
export const TimestampMessage = feastProtoRoot.lookupType('google.protobuf.Timestamp');
/** `google.protobuf.Duration`. */
export const DurationMessage = feastProtoRoot.lookupType('google.protobuf.Duration');
/** `feast.core.Registry`, the content of a file registry (`registry.db`). */
export const RegistryMessage = feastProtoRoot.lookupType('feast.core.Registry');
