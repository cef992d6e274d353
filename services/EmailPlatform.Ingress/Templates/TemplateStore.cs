using System.Globalization;
using EmailPlatform.Ingress.Storage;
using Microsoft.EntityFrameworkCore;

namespace EmailPlatform.Ingress.Templates;

/// <summary>Finds templates by id or alias, optionally pinned to a version (<c>welcome@3</c>, <c>{id}@3</c>).</summary>
internal static class TemplateStore
{
    /// <summary>
    /// The template and the version <paramref name="reference"/> names: the pinned one, else the latest published
    /// (<paramref name="published"/>) or the latest of all. Null when either does not exist.
    /// </summary>
    public static async Task<(TemplateRecord? Template, TemplateVersionRecord? Version)> FindAsync(
        IngressDbContext db, string reference, bool published, CancellationToken cancellationToken)
    {
        var (key, pinned) = Split(reference);
        var template = await FindTemplateAsync(db, key, cancellationToken);
        if (template is null)
        {
            return (null, null);
        }

        var versions = template.Versions.OrderBy(v => v.Version);
        var version = pinned is { } number ? versions.FirstOrDefault(v => v.Version == number)
            : published ? versions.LastOrDefault(v => v.PublishedAt is not null)
            : versions.LastOrDefault();
        return (template, version);
    }

    public static Task<TemplateRecord?> FindTemplateAsync(IngressDbContext db, string key, CancellationToken cancellationToken) =>
        Guid.TryParse(key, out var id)
            ? db.Templates.Include(t => t.Versions).SingleOrDefaultAsync(t => t.Id == id, cancellationToken)
            : db.Templates.Include(t => t.Versions).SingleOrDefaultAsync(t => t.Alias == key, cancellationToken);

    private static (string Key, int? Version) Split(string reference)
    {
        var at = reference.LastIndexOf('@');
        return at > 0 && int.TryParse(reference.AsSpan(at + 1), NumberStyles.None, CultureInfo.InvariantCulture, out var version)
            ? (reference[..at], version)
            : (reference, null);
    }
}
