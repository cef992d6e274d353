using System.Text;
using AngleSharp.Dom;
using AngleSharp.Html.Parser;

namespace EmailPlatform.Ingress.Templates;

/// <summary>
/// The text part of an email that has only HTML: parsed with AngleSharp, block elements become paragraphs, list items
/// lines, and links stay followable as <c>text (url)</c>. Scripts, styles and the head are dropped.
/// </summary>
internal static class HtmlText
{
    private static readonly HashSet<string> Skipped = new(StringComparer.OrdinalIgnoreCase) { "script", "style", "head", "title", "template", "noscript" };

    private static readonly HashSet<string> Blocks = new(StringComparer.OrdinalIgnoreCase)
    {
        "p", "div", "h1", "h2", "h3", "h4", "h5", "h6", "ul", "ol", "table", "tr", "blockquote", "section", "article",
        "header", "footer", "main", "nav", "aside", "pre", "hr", "address", "figure", "form", "fieldset", "dl", "dt", "dd",
    };

    public static string From(string html)
    {
        var document = new HtmlParser().ParseDocument(html);
        var text = new StringBuilder();
        Append(text, document.Body ?? (INode)document);
        return Normalize(text.ToString());
    }

    private static void Append(StringBuilder text, INode node)
    {
        foreach (var child in node.ChildNodes)
        {
            switch (child)
            {
                case IText t:
                    AppendCollapsed(text, t.Data);
                    break;
                case IElement e when Skipped.Contains(e.LocalName):
                    break;
                case IElement e when e.LocalName == "br":
                    text.Append('\n');
                    break;
                case IElement e when e.LocalName == "img":
                    AppendCollapsed(text, e.GetAttribute("alt") ?? "");
                    break;
                case IElement e when e.LocalName == "a":
                    AppendLink(text, e);
                    break;
                case IElement e when e.LocalName == "li":
                    text.Append("\n- ");
                    Append(text, e);
                    break;
                case IElement e when e.LocalName is "td" or "th":
                    Append(text, e);
                    text.Append(' ');
                    break;
                case IElement e when Blocks.Contains(e.LocalName):
                    text.Append("\n\n");
                    Append(text, e);
                    text.Append("\n\n");
                    break;
                case IElement e:
                    Append(text, e);
                    break;
            }
        }
    }

    private static void AppendLink(StringBuilder text, IElement link)
    {
        var start = text.Length;
        Append(text, link);
        var label = text.ToString(start, text.Length - start).Trim();
        var href = link.GetAttribute("href")?.Trim();
        if (string.IsNullOrEmpty(href) || href.StartsWith('#') || href.StartsWith("javascript:", StringComparison.OrdinalIgnoreCase))
        {
            return;
        }

        var shown = href.StartsWith("mailto:", StringComparison.OrdinalIgnoreCase) ? href["mailto:".Length..] : href;
        if (label.Length == 0)
        {
            text.Append(shown);
        }
        else if (!string.Equals(label, shown, StringComparison.OrdinalIgnoreCase))
        {
            text.Append(" (").Append(shown).Append(')');
        }
    }

    private static void AppendCollapsed(StringBuilder text, string data)
    {
        foreach (var c in data)
        {
            if (char.IsWhiteSpace(c))
            {
                if (text.Length > 0 && !char.IsWhiteSpace(text[^1]))
                {
                    text.Append(' ');
                }
            }
            else
            {
                text.Append(c);
            }
        }
    }

    /// <summary>Trims every line and keeps at most one blank line between paragraphs.</summary>
    private static string Normalize(string text)
    {
        var result = new StringBuilder(text.Length);
        var blank = 0;
        foreach (var raw in text.Split('\n'))
        {
            var line = raw.Trim();
            if (line.Length == 0)
            {
                blank++;
                continue;
            }

            if (result.Length > 0)
            {
                result.Append(blank > 0 ? "\n\n" : "\n");
            }

            result.Append(line);
            blank = 0;
        }

        return result.ToString();
    }
}
