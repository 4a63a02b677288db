// Query page: SPARQL highlighting over the plain textarea, Ctrl+Enter to run. The form works without it.
(function () {
  "use strict";
  var area = document.getElementById("query");
  var out = document.getElementById("highlight");
  if (!area || !out) { return; }
  var KEYWORDS = ["BASE", "PREFIX", "SELECT", "CONSTRUCT", "DESCRIBE", "ASK", "WHERE", "FROM", "NAMED", "GRAPH",
    "OPTIONAL", "UNION", "MINUS", "FILTER", "BIND", "VALUES", "SERVICE", "SILENT", "AS", "DISTINCT", "REDUCED",
    "ORDER", "BY", "ASC", "DESC", "GROUP", "HAVING", "LIMIT", "OFFSET", "NOT", "EXISTS", "IN", "UNDEF", "a",
    "COUNT", "SUM", "MIN", "MAX", "AVG", "SAMPLE", "GROUP_CONCAT", "SEPARATOR", "STR", "LANG", "LANGMATCHES",
    "DATATYPE", "BOUND", "IRI", "URI", "BNODE", "COALESCE", "IF", "STRSTARTS", "STRENDS", "CONTAINS", "REGEX",
    "LCASE", "UCASE", "CONCAT", "isIRI", "isURI", "isLiteral", "isBlank", "true", "false"];
  var keywordSet = {};
  KEYWORDS.forEach(function (k) { keywordSet[k.toUpperCase()] = true; });
  // one pass over the text: each alternative is a token class, in order of precedence
  var TOKEN = /(#[^\n]*)|("""[\s\S]*?"""|'''[\s\S]*?'''|"(?:[^"\\\n]|\\.)*"|'(?:[^'\\\n]|\\.)*')|(<[^<>"{}|^`\\\s]*>)|([?$][A-Za-z0-9_]+)|([A-Za-z][\w.-]*:[\w.%-]*|:[\w.%-]+)|(\b\d+(?:\.\d+)?\b)|([A-Za-z_]+)/g;
  var CLASSES = [null, "comment", "string", "iri", "variable", "pname", "number", "word"];

  function escapeHtml(text) {
    return text.replace(/&/g, "&amp;").replace(/</g, "&lt;").replace(/>/g, "&gt;");
  }

  function highlight(text) {
    var html = "", last = 0, match;
    TOKEN.lastIndex = 0;
    while ((match = TOKEN.exec(text)) !== null) {
      html += escapeHtml(text.slice(last, match.index));
      var kind = null;
      for (var i = 1; i < CLASSES.length; i++) { if (match[i] !== undefined) { kind = CLASSES[i]; break; } }
      if (kind === "word") { kind = keywordSet[match[0].toUpperCase()] ? "keyword" : null; }
      html += kind ? '<span class="tok-' + kind + '">' + escapeHtml(match[0]) + "</span>" : escapeHtml(match[0]);
      last = TOKEN.lastIndex;
    }
    return html + escapeHtml(text.slice(last)) + "\n";
  }

  function refresh() {
    out.innerHTML = highlight(area.value);
    out.parentNode.scrollTop = area.scrollTop;
  }

  area.parentNode.classList.add("highlighting");
  area.addEventListener("input", refresh);
  area.addEventListener("scroll", function () { out.parentNode.scrollTop = area.scrollTop; });
  area.addEventListener("keydown", function (event) {
    if (event.key === "Enter" && (event.ctrlKey || event.metaKey)) { area.form.submit(); }
  });
  refresh();
}());
