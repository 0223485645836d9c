/**
 * Four Express demo processes sharing one Redis Cluster (3 masters, started
 * here from the redis-server binary by store-redis's own test helper), the demo
 * run with SESS_STORE=redis-cluster and REDIS_CLUSTER_NODES.
 */
import { startCluster, type TestCluster } from '../../packages/store-redis/test/cluster.js';
import { hasRedisBinaries } from '../../packages/store-redis/test/redis-server.js';
import { fleetScenarios } from './helpers/scenarios.js';

const available = hasRedisBinaries();
let cluster: TestCluster | undefined;

fleetScenarios(
  {
    name: 'RedisStore (3-master Cluster)',
    storeName: 'redis-cluster',
    async open() {
      cluster = await startCluster({ masters: 3 });
      return {
        env: { SESS_STORE: 'redis-cluster', REDIS_CLUSTER_NODES: cluster.nodes.map((n) => `${n.host}:${n.port}`).join(',') },
        // A private cluster: killing it deletes everything the run stored.
        cleanup: async () => cluster?.stop(),
      };
    },
  },
  available,
);
