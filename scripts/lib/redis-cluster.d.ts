/** A local Redis Cluster of six `redis-server` processes (3 masters + 3 replicas). */
export interface RedisCluster {
  readonly ports: number[];
  /** One `redis://` URL per node (with the password when there is one). */
  readonly urls: string[];
  healthy(timeout?: number): Promise<void>;
  masters(): Promise<number[]>;
  holds(port: number): Promise<{ keys: number; channels: number }>;
  /** The live master that serves `key`'s slot. */
  masterOf(key: string): Promise<number>;
  kill(port: number): Promise<void>;
  stop(): Promise<void>;
}
export function startRedisCluster(options?: { password?: string }): Promise<RedisCluster>;
