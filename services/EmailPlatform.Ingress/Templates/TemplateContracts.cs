using System.Text.Json;

namespace EmailPlatform.Ingress.Templates;

/// <summary>The body of <c>POST /v1/templates</c> and <c>PATCH /v1/templates/{id}</c> (where every member is optional).</summary>
public sealed record TemplateRequest
{
    public string? Name { get; init; }

    /// <summary>A stable id for sends: lowercase letters, digits, '-' and '_'.</summary>
    public string? Alias { get; init; }

    /// <summary>Liquid; rendered without encoding and refused when it renders to CR, LF or another control character.</summary>
    public string? Subject { get; init; }

    /// <summary>Liquid; every output is HTML-encoded.</summary>
    public string? Html { get; init; }

    /// <summary>Liquid; derived from the HTML at send time when omitted.</summary>
    public string? Text { get; init; }

    public IReadOnlyList<TemplateVariable>? Variables { get; init; }
}

/// <summary>The body of <c>POST /v1/templates/{id}/render</c>.</summary>
public sealed record RenderTemplateRequest
{
    public IReadOnlyDictionary<string, JsonElement>? Variables { get; init; }
}

/// <summary>The body of <c>POST /v1/templates/{id}/test</c>: one recipient, the sender (checked as a send's is) and the variables.</summary>
public sealed record TestTemplateRequest
{
    public string? To { get; init; }

    public string? From { get; init; }

    public IReadOnlyDictionary<string, JsonElement>? Variables { get; init; }
}

/// <summary><c>template</c> in a send: a template id or alias, optionally pinned (<c>welcome@3</c>), and its variables.</summary>
public sealed record TemplateReference
{
    public string? Id { get; init; }

    public IReadOnlyDictionary<string, JsonElement>? Variables { get; init; }
}

/// <summary>A template with one of its versions (the latest unless one was pinned), and a summary of every version.</summary>
public sealed record TemplateResponse(
    string Object,
    Guid Id,
    string Name,
    string? Alias,
    int Version,
    string Status,
    int? PublishedVersion,
    int LatestVersion,
    string Subject,
    string? Html,
    string? Text,
    IReadOnlyList<TemplateVariable> Variables,
    DateTime CreatedAt,
    DateTime UpdatedAt,
    DateTime? PublishedAt,
    IReadOnlyList<TemplateVersionSummary> Versions)
{
    /// <param name="versions">Every version of the template, oldest first (<see cref="TemplateStore.SummariesAsync"/>).</param>
    public static TemplateResponse From(TemplateRecord template, TemplateVersionRecord version, IReadOnlyList<TemplateVersionSummary> versions) =>
        new("template", template.Id, template.Name, template.Alias, version.Version,
            TemplateVersionSummary.StatusOf(version.PublishedAt),
            versions.LastOrDefault(v => v.PublishedAt is not null)?.Version, versions[^1].Version,
            version.Subject, version.Html, version.Text, version.DeclaredVariables(),
            template.CreatedAt, versions[^1].CreatedAt, version.PublishedAt,
            versions);
}

public sealed record TemplateVersionSummary(int Version, string Status, DateTime CreatedAt, DateTime? PublishedAt)
{
    public static TemplateVersionSummary Of(int version, DateTime createdAt, DateTime? publishedAt) =>
        new(version, StatusOf(publishedAt), createdAt, publishedAt);

    public static string StatusOf(DateTime? publishedAt) => publishedAt is null ? "draft" : "published";
}

/// <summary>A template as listed: no content.</summary>
public sealed record TemplateSummary(string Object, Guid Id, string Name, string? Alias, int? PublishedVersion, int LatestVersion, DateTime CreatedAt);

public sealed record TemplateListResponse(string Object, bool HasMore, IReadOnlyList<TemplateSummary> Data);

public sealed record TemplateDeletedResponse(string Object, Guid Id, bool Deleted);

/// <summary>The answer to a render: what a send with these variables would carry.</summary>
public sealed record RenderedTemplateResponse(string Object, Guid Id, int Version, string Subject, string? Html, string? Text);
