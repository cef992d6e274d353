using EmailPlatform.Ingress.Sending;
using EmailPlatform.Ingress.Storage;
using EmailPlatform.ServiceDefaults.Problems;
using Microsoft.AspNetCore.Http.HttpResults;
using Microsoft.Extensions.Options;

namespace EmailPlatform.Ingress.Templates;

/// <summary>
/// Why a templated send could not be rendered: the problem a single send answers with, and the same reasons by
/// field (<c>template.id</c>, <c>template.variables.name</c>, <c>subject</c>…), which a batch keys by index.
/// </summary>
internal sealed record TemplateFailure(ProblemHttpResult Problem, IDictionary<string, string[]> Errors);

/// <summary>
/// Turns a send with <c>template: {id, variables}</c> into the plain send it stands for, at accept: the rendered subject,
/// HTML and text, unless the request gives its own. A text part is derived from the HTML when there is none.
/// Scoped: the templates a request names are read once per request (a batch may name one template a hundred times),
/// and the emails of a request render at most <see cref="IngressOptions.MaxRequestBodyBytes"/> together, each at most
/// <see cref="TemplatesOptions.MaxRenderedBytes"/>: a batch of a hundred templated emails holds no more than the request
/// could have carried itself.
/// </summary>
internal sealed class TemplateSending(IngressDbContext db, TemplateRenderer renderer, IOptions<IngressOptions> options)
{
    private readonly Dictionary<(string, bool), TemplateVersionRecord?> _versions = new();

    /// <summary>What this request's emails have rendered so far, in UTF-8 bytes.</summary>
    private long _rendered;

    /// <param name="published">
    /// True for sends: an unpinned reference names the latest published version. False for test sends, which render the
    /// latest version, draft included.
    /// </param>
    public async Task<(SendEmailRequest? Request, TemplateFailure? Failure)> ApplyAsync(
        SendEmailRequest request, CancellationToken cancellationToken, bool published = true)
    {
        if (request.Template is not { } reference)
        {
            return (request, null);
        }

        if (string.IsNullOrWhiteSpace(reference.Id))
        {
            const string message = "The template.id field is required: a template id or alias, optionally pinned ('welcome@2').";
            var errors = new Dictionary<string, string[]> { ["template.id"] = [message] };
            return (null, new TemplateFailure(
                ApiProblems.FieldProblem(StatusCodes.Status400BadRequest, ApiProblems.MissingRequiredField, "The request is invalid.", message, errors),
                errors));
        }

        if (!_versions.TryGetValue((reference.Id, published), out var version))
        {
            version = await TemplateStore.FindVersionAsync(db, reference.Id, published, cancellationToken);
            _versions[(reference.Id, published)] = version;
        }

        if (version is null)
        {
            var notFound = TemplateProblems.NotFound(reference.Id, published);
            return (null, new TemplateFailure(notFound, new Dictionary<string, string[]> { ["template.id"] = [notFound.ProblemDetails.Detail!] }));
        }

        var parts = new TemplateParts(request.Subject is null, request.Html is null, request.Text is null);
        var requestLimit = options.Value.MaxRequestBodyBytes;
        var budget = new RenderBudget(requestLimit - _rendered,
            $"The emails of this request render more than {requestLimit} bytes together (subject, HTML and text, in UTF-8); send fewer of them at once.");
        var outcome = renderer.Render(version, reference.Variables, parts, "template.variables", budget);
        if (outcome.Rendered is not { } rendered)
        {
            return (null, new TemplateFailure(TemplateProblems.Unrenderable(outcome.Errors), outcome.Errors));
        }

        _rendered += rendered.Bytes;

        var html = request.Html ?? rendered.Html;
        return (request with
        {
            Template = null,
            Subject = request.Subject ?? rendered.Subject,
            Html = html,
            Text = request.Text ?? rendered.Text ?? (string.IsNullOrEmpty(html) ? null : HtmlText.From(html)),
        }, null);
    }
}
