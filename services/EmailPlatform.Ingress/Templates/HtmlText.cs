using System.Text;
using AngleSharp.Dom;
using AngleSharp.Html.Parser;

namespace EmailPlatform.Ingress.Templates;

/// <summary>
/// The text part of an email that has only HTML: parsed with AngleSharp, block elements become paragraphs, list items
/// lines, and links stay followable as <c>text (url)</c>. Scripts, styles and the head are dropped.
/// No text is derived from HTML over <see cref="MaxLength"/> characters or with more than <see cref="MaxElements"/>
/// start tags: AngleSharp takes time quadratic in the nesting (100,000 nested divs, 500 KB, took minutes of CPU; 20,000
/// took about 3 s), and the HTML comes from the client. The start tags are counted, not the nesting, because end tags
/// that close nothing (<c>&lt;/&gt;</c>, <c>&lt;/x&gt;</c>, or one inside a comment or a script) would make a nesting
/// count fall short of the parser's; with at most <see cref="MaxElements"/> elements the nesting is bounded too.
/// Such an email is sent with its HTML alone.
/// </summary>
internal static class HtmlText
{
    public const int MaxLength = 1_000_000;
    public const int MaxElements = 10_000;

    /// <summary>Elements that have no end tag; they do not nest.</summary>
    private static readonly HashSet<string> Void = new(StringComparer.OrdinalIgnoreCase)
    {
        "area", "base", "br", "col", "embed", "hr", "img", "input", "keygen", "link", "meta", "param", "source", "track", "wbr",
    };

    private static readonly HashSet<string> Skipped = new(StringComparer.OrdinalIgnoreCase) { "script", "style", "head", "title", "template", "noscript" };

    private static readonly HashSet<string> Blocks = new(StringComparer.OrdinalIgnoreCase)
    {
        "p", "div", "h1", "h2", "h3", "h4", "h5", "h6", "ul", "ol", "table", "tr", "blockquote", "section", "article",
        "header", "footer", "main", "nav", "aside", "pre", "hr", "address", "figure", "form", "fieldset", "dl", "dt", "dd",
    };

    /// <returns>The text, or null when the HTML is too long or nests too deeply to derive it (see <see cref="HtmlText"/>).</returns>
    public static string? From(string html)
    {
        if (html.Length > MaxLength || OpensMoreThan(html, MaxElements))
        {
            return null;
        }

        var document = new HtmlParser().ParseDocument(html);
        var text = new StringBuilder();
        Append(text, document.Body ?? (INode)document);
        return Normalize(text.ToString());
    }

    /// <summary>
    /// Whether the HTML has more than <paramref name="limit"/> start tags of elements that can hold others (not void
    /// ones such as <c>br</c> or <c>img</c>), counted in one pass without parsing. Anything that looks like a start tag
    /// counts, in a comment or an attribute too: the count may exceed the parser's elements, never fall short of them.
    /// </summary>
    internal static bool OpensMoreThan(string html, int limit)
    {
        var voids = Void.GetAlternateLookup<ReadOnlySpan<char>>();
        var opened = 0;
        for (var i = html.IndexOf('<', StringComparison.Ordinal); i >= 0 && i + 1 < html.Length; i = html.IndexOf('<', i + 1))
        {
            var end = i + 1;
            while (end < html.Length && char.IsAsciiLetterOrDigit(html[end]))
            {
                end++;
            }

            if (end > i + 1 && char.IsAsciiLetter(html[i + 1]) && !voids.Contains(html.AsSpan(i + 1, end - i - 1)) && ++opened > limit)
            {
                return true;
            }
        }

        return false;
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
