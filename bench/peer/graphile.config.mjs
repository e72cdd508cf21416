// PostGraphile 5 over the benchmark database, with the same row-level security the server
// runs under: every request's transaction switches to role `authenticated` with the user's
// claim (the user id comes in a header; the server checks a JWT instead).
import { PostGraphileAmberPreset } from "postgraphile/presets/amber";
import { makePgService } from "postgraphile/adaptors/pg";

export default {
  extends: [PostGraphileAmberPreset],
  // Lists, as the server serves them; and every backward relation, even where its composite
  // foreign key (x_id, project_id) has no index of its own (the x_id index serves it).
  schema: { defaultBehavior: "-connection +list" },
  disablePlugins: ["PgIndexBehaviorsPlugin"],
  pgServices: [
    makePgService({
      connectionString: process.env.PEER_DATABASE_URL,
      schemas: ["public"],
      poolSize: 10,
      pgSettings(requestContext) {
        const req = requestContext.node?.req;
        return {
          role: "authenticated",
          "request.jwt.claim.sub": req?.headers["x-user-id"] ?? "",
        };
      },
    }),
  ],
  grafserv: { port: Number(process.env.PEER_PORT || 5678), graphiql: false, watch: false },
  grafast: { explain: false },
};
