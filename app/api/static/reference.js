// Start Swagger UI on the site's OpenAPI document (app/api/reference.py). A file rather than an inline script:
// the Content-Security-Policy runs only the site's own files.
(function () {
  "use strict";

  // Swagger UI's BaseLayout without what fails axe on the site's page: its <main> (the page has its own), its
  // title block (the page has its heading; the version badges lack contrast) and a server list whose label is
  // empty. The parts themselves are Swagger UI's.
  function SiteLayoutPlugin(system) {
    var h = system.React.createElement;

    function SiteLayout(props) {
      var get = props.getComponent;
      var Errors = get("errors", true);
      var status = props.specSelectors.loadingStatus();
      if (status === "failed") {
        return h("div", { className: "swagger-ui" }, h("p", null, "The OpenAPI document could not be read."), h(Errors));
      }
      if (status !== "success") {
        return h("div", { className: "swagger-ui" }, h("p", null, "Reading the OpenAPI document…"));
      }
      return h(
        "div",
        { className: "swagger-ui" },
        h(get("SvgAssets")),
        h(Errors),
        h(
          "div",
          { className: "scheme-container" },
          h(
            "section",
            { className: "schemes wrapper block col-12" },
            h(
              "div",
              { className: "schemes-server-container" },
              h("label", { htmlFor: "servers", className: "visually-hidden" }, "Server"),
              h(get("ServersContainer", true))
            ),
            h(get("AuthorizeBtnContainer", true))
          )
        ),
        h(
          "section",
          { "aria-labelledby": "operations-heading" },
          h("h2", { id: "operations-heading", className: "visually-hidden" }, "Operations"),
          h(get("operations", true))
        ),
        h(get("Models", true))
      );
    }

    return { components: { SiteLayout: SiteLayout } };
  }

  // What Swagger UI leaves out for assistive technology, added as it draws: names for a control and a region,
  // the keyboard's way into a box that scrolls, and the levels of the Authorize dialog's headings (it opens
  // right after the page's h1).
  var MISSING = [
    ["textarea.body-param__text", "aria-label", function () { return "Request body (JSON)"; }],
    ["table.responses-table[role=region]", "aria-label", responsesOf],
    [".modal-ux .close-modal", "aria-label", function () { return "Close"; }],
    [".highlight-code > pre", "tabindex", function () { return "0"; }],
    [".modal-ux-header h3", "aria-level", function () { return "2"; }],
    [".modal-ux-content h4", "aria-level", function () { return "3"; }],
  ];

  function responsesOf(table) {
    var summary = table.closest(".opblock").querySelector(".opblock-summary");
    var method = summary.querySelector(".opblock-summary-method").textContent;
    return "Responses of " + method + " " + summary.querySelector("[data-path]").getAttribute("data-path");
  }

  function addWhatIsMissing(root) {
    MISSING.forEach(function (rule) {
      root.querySelectorAll(rule[0] + ":not([" + rule[1] + "])").forEach(function (element) {
        element.setAttribute(rule[1], rule[2](element));
      });
    });
  }

  var root = document.getElementById("api-reference");
  new MutationObserver(function () { addWhatIsMissing(root); }).observe(root, { childList: true, subtree: true });
  window.SwaggerUIBundle({
    domNode: root,
    url: root.dataset.document,
    plugins: [SiteLayoutPlugin],
    layout: "SiteLayout",
    deepLinking: false, // its links sit inside each operation's button: a control inside a control
    validatorUrl: null, // no badge fetched from another host
    defaultModelsExpandDepth: 0,
    syntaxHighlight: { theme: "idea" },
  });
})();
