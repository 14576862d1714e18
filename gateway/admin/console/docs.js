// The public API documentation page: the live OpenAPI document of this
// listener, rendered by swagger-ui; "try it out" calls this listener.
'use strict';
window.SwaggerUIBundle({
  url: document.querySelector('meta[name="openapi"]').content,
  dom_id: '#swagger',
  deepLinking: true,
  validatorUrl: null,
});
