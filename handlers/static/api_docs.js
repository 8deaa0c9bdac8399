/* The API reference: Swagger UI (served from the flask-swagger-ui package, no CDN) renders openapi.json.
   A file, not an inline script, so the Content-Security-Policy needs no 'unsafe-inline'. */
(function () {
  "use strict";
  var node = document.getElementById("swagger-ui");
  if (!node || typeof SwaggerUIBundle === "undefined") { return; }
  SwaggerUIBundle({
    url: node.getAttribute("data-spec"),
    domNode: node,
    deepLinking: true,
    docExpansion: "list",
    defaultModelsExpandDepth: 0,
    tryItOutEnabled: false,
    supportedSubmitMethods: []
  });
})();
