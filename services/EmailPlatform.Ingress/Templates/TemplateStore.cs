using System.Globalization;
using EmailPlatform.Ingress.Storage;
using Microsoft.EntityFrameworkCore;

namespace EmailPlatform.Ingress.Templates;

/// <summary>
/// Finds templates by id or alias, optionally pinned to a version (<c>welcome@3</c>, <c>{id}@3</c>). Sends read the one
/// version they render, untracked: a template edited hundreds of times keeps every version, and reading them all (and
/// keeping them in the context that commits the send) on each send cost as much as the versions weigh.
/// </summary>
internal static class TemplateStore
{
    /// <summary>
    /// The version <paramref name="reference"/> names, alone and untracked: the pinned one, else the latest published
    /// (<paramref name="published"/>) or the latest of all. Null when the template or the version does not exist.
    /// </summary>
    public static Task<TemplateVersionRecord?> FindVersionAsync(
        IngressDbContext db, string reference, bool published, CancellationToken cancellationToken)
    {
        var (key, pinned) = Split(reference);
        var versions = Matching(db.Templates.AsNoTracking(), key).SelectMany(t => t.Versions);
        versions = pinned is { } number ? versions.Where(v => v.Version == number)
            : published ? versions.Where(v => v.PublishedAt != null)
            : versions;
        return versions.OrderByDescending(v => v.Version).FirstOrDefaultAsync(cancellationToken);
    }

    /// <summary>
    /// For reads: the template (untracked, its versions not loaded), the version <paramref name="reference"/> names (as
    /// <see cref="FindVersionAsync"/>) and every version's summary, without content. Nulls when either does not exist.
    /// </summary>
    public static async Task<(TemplateRecord? Template, TemplateVersionRecord? Version, IReadOnlyList<TemplateVersionSummary> Versions)> FindAsync(
        IngressDbContext db, string reference, bool published, CancellationToken cancellationToken)
    {
        var version = await FindVersionAsync(db, reference, published, cancellationToken);
        var template = version is null ? null
            : await db.Templates.AsNoTracking().SingleOrDefaultAsync(t => t.Id == version.TemplateId, cancellationToken);
        var versions = template is null ? [] : await SummariesAsync(db, template.Id, cancellationToken);
        return versions.Count == 0 ? (null, null, []) : (template, version, versions); // none: deleted meanwhile
    }

    /// <summary>The template <paramref name="key"/> (an id or an alias, not pinned) names, tracked, without its versions: for edits.</summary>
    public static Task<TemplateRecord?> FindTemplateAsync(IngressDbContext db, string key, CancellationToken cancellationToken) =>
        Matching(db.Templates, key).SingleOrDefaultAsync(cancellationToken);

    /// <summary>The latest version of a template, tracked (to publish it) or not (to edit over it).</summary>
    public static Task<TemplateVersionRecord> LatestVersionAsync(IngressDbContext db, Guid templateId, bool tracked, CancellationToken cancellationToken) =>
        (tracked ? db.TemplateVersions : db.TemplateVersions.AsNoTracking())
            .Where(v => v.TemplateId == templateId).OrderByDescending(v => v.Version).FirstAsync(cancellationToken);

    /// <summary>Every version of a template, oldest first, without content.</summary>
    public static async Task<IReadOnlyList<TemplateVersionSummary>> SummariesAsync(IngressDbContext db, Guid templateId, CancellationToken cancellationToken)
    {
        var versions = await db.TemplateVersions.AsNoTracking().Where(v => v.TemplateId == templateId).OrderBy(v => v.Version)
            .Select(v => new { v.Version, v.CreatedAt, v.PublishedAt })
            .ToListAsync(cancellationToken);
        return versions.Select(v => TemplateVersionSummary.Of(v.Version, v.CreatedAt, v.PublishedAt)).ToList();
    }

    /// <summary>The templates <paramref name="key"/> names: by id when it is one, else by alias (an alias is never shaped like an id).</summary>
    public static IQueryable<TemplateRecord> Matching(IQueryable<TemplateRecord> templates, string key) =>
        Guid.TryParse(key, out var id) ? templates.Where(t => t.Id == id) : templates.Where(t => t.Alias == key);

    private static (string Key, int? Version) Split(string reference)
    {
        var at = reference.LastIndexOf('@');
        return at > 0 && int.TryParse(reference.AsSpan(at + 1), NumberStyles.None, CultureInfo.InvariantCulture, out var version)
            ? (reference[..at], version)
            : (reference, null);
    }
}
