/** @type {import('next').NextConfig} */
export default {
  poweredByHeader: false,
  eslint: { ignoreDuringBuilds: true },
  webpack(config, { isServer }) {
    if (isServer) {
      // Why: demo-kit opens the store drivers (knex and its dialects, ioredis)
      // by dynamic import, which webpack cannot bundle. Loaded by Node at run
      // time instead, it resolves them from its own folder. (A workspace
      // package lives outside node_modules, so serverExternalPackages does not
      // apply to it.)
      config.externals = [
        ...(Array.isArray(config.externals) ? config.externals : [config.externals].filter(Boolean)),
        ({ request }, callback) => (request === 'demo-kit' || request?.startsWith('demo-kit/') ? callback(null, `import ${request}`) : callback()),
      ];
    }
    return config;
  },
};
