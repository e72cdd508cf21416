"""GraphiQL at GET /graphql, working offline: every script and style comes from this server.

The bundles (GraphiQL 2, React 17, graphql-ws) are the package data of the PyPI package
`graphene-django-graphiql-static`, a dependency of this project; only its static files are
read (Django is not needed). The page's own fetcher sends HTTP requests with the Headers tab's
headers and runs subscriptions over graphql-transport-ws with the same Authorization header in
`connection_init` (README, For frontend engineers)."""

from __future__ import annotations

import html
import json
from importlib import resources
from pathlib import Path

from services.core.config import DEV_USER_ID

ASSETS_PATH = "/graphiql"
_PACKAGE = "graphene_django_graphiql_static"


def assets_dir() -> Path:
    return Path(str(resources.files(_PACKAGE) / "static" / _PACKAGE))


FILM_QUERY = """\
# The films of the user these requests act as (load one with `continuity demo`):
# each scene's asset instances with their state and images, and stage 9's prompts.
query Film {
  viewer {
    userId
    projects {
      id
      title
      activeBranch {
        id
        name
        scenes {
          id
          sceneNumber
          slug
          assetInstances {
            id
            projectAsset { name assetType }
            effectiveDescription
            statusTags
            imageKeyUrl
          }
          shots { shotLabel videoPrompt }
        }
      }
    }
  }
}
"""

JOBS_SUBSCRIPTION = """\
# Live image jobs of a project: run this, then queue an image in another tab, e.g.
#   mutation { generateSceneAssetImage(instanceId: "<an instance id>") { id status } }
subscription Jobs($projectId: UUID) {
  imageJobUpdated(projectId: $projectId) {
    id
    status
    prompt
    imageUrl
    error
  }
}
"""

_SCRIPT = r"""
(function () {
  const config = JSON.parse(document.getElementById('continuity-config').textContent);
  const url = location.origin + location.pathname;
  const wsUrl = url.replace(/^http/, 'ws');
  let socket = null;
  let socketAuth = null;

  function header(headers, name) {
    for (const key of Object.keys(headers || {})) {
      if (key.toLowerCase() === name) return headers[key];
    }
    return undefined;
  }

  // One socket per Authorization value: a changed token reconnects with a new connection_init.
  function socketFor(auth) {
    if (socket && socketAuth === auth) return socket;
    if (socket) socket.dispose();
    socketAuth = auth;
    socket = graphqlWs.createClient({
      url: wsUrl,
      connectionParams: auth ? { Authorization: auth } : {},
      retryAttempts: 0,
    });
    return socket;
  }

  function isSubscription(params) {
    const source = String(params.query || '').replace(/#[^\n\r]*/g, '');
    if (params.operationName) {
      return new RegExp('\\bsubscription\\s+' + params.operationName + '\\b').test(source);
    }
    return /^\s*subscription\b/.test(source);
  }

  // GraphiQL shows an Error's message; graphql-ws reports GraphQL errors as an array and a
  // closed socket as a CloseEvent.
  function explain(error) {
    if (Array.isArray(error)) return { errors: error };
    if (error instanceof Error) return error;
    const code = error && error.code ? ' (' + error.code + ' ' + (error.reason || '') + ')' : '';
    return new Error('The websocket closed' + code);
  }

  function fetcher(params, options) {
    const headers = (options && options.headers) || {};
    if (isSubscription(params)) {
      const client = socketFor(header(headers, 'authorization'));
      return {
        subscribe(observer) {
          const dispose = client.subscribe(params, {
            next: (value) => observer.next(value),
            error: (error) => observer.error(explain(error)),
            complete: () => observer.complete(),
          });
          return { unsubscribe: dispose };
        },
      };
    }
    return fetch(url, {
      method: 'POST',
      headers: Object.assign({ 'Content-Type': 'application/json', Accept: 'application/json' }, headers),
      body: JSON.stringify(params),
    }).then((response) => response.json());
  }

  ReactDOM.render(
    React.createElement(GraphiQL, {
      fetcher: fetcher,
      defaultTabs: config.tabs,
      defaultEditorToolsVisibility: true,
      isHeadersEditorEnabled: true,
    }),
    document.getElementById('graphiql'),
  );
})();
"""


def page(*, dev_auth: bool) -> str:
    if dev_auth:
        banner = (
            f"Development mode: requests without a token act as user {DEV_USER_ID}. "
            'To act as someone else, put {"Authorization": "Bearer <token>"} in Headers '
            "(`continuity token --user UUID` prints one); subscriptions carry it too."
        )
    else:
        banner = (
            'Requests need a token: put {"Authorization": "Bearer <token>"} in Headers; '
            "subscriptions carry it too."
        )
    config = {"tabs": [{"query": FILM_QUERY}, {"query": JOBS_SUBSCRIPTION, "variables": '{"projectId": null}'}]}
    # `</` never appears inside the JSON block, so the script element cannot be closed early.
    config_json = json.dumps(config).replace("</", "<\\/")
    asset = ASSETS_PATH
    return f"""<!DOCTYPE html>
<html lang="en">
<head>
  <meta charset="utf-8">
  <title>Continuity</title>
  <link rel="stylesheet" href="{asset}/graphiql.min.css">
  <style>
    html, body {{ height: 100%; margin: 0; overflow: hidden; }}
    body {{ display: flex; flex-direction: column; }}
    #continuity-banner {{ font: 14px/1.4 system-ui, sans-serif; padding: 6px 12px; background: #fff4d6;
      border-bottom: 1px solid #e5c774; color: #4a3b00; }}
    #graphiql {{ flex: 1; min-height: 0; }}
  </style>
  <script src="{asset}/react.production.min.js"></script>
  <script src="{asset}/react-dom.production.min.js"></script>
  <script src="{asset}/graphiql.min.js"></script>
  <script src="{asset}/graphql-ws.min.js"></script>
</head>
<body>
  <div id="continuity-banner" role="note">{html.escape(banner)}</div>
  <div id="graphiql">Loading GraphiQL...</div>
  <script id="continuity-config" type="application/json">{config_json}</script>
  <script>{_SCRIPT}</script>
</body>
</html>
"""
