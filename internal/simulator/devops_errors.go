package simulator

// Azure DevOps' error answers, in the shapes its REST API gives them.

import (
	"fmt"
	"net/http"
	"strings"
)

// adoFailure is an Azure DevOps error answer.
type adoFailure struct {
	code int
	body map[string]any
}

func (f *adoFailure) write(w http.ResponseWriter) { writeJSON(w, f.code, f.body) }

// adoWITFail is an error of work item tracking itself.
func adoWITFail(code int, typeKey, msg string) *adoFailure {
	return &adoFailure{code, devopsError(typeKey, msg, 0)}
}

// adoVSSFail is an error of the Azure DevOps platform; fullType is the
// .NET "Namespace.Type, Assembly" it names.
func adoVSSFail(code int, fullType, msg string) *adoFailure {
	typ, _, _ := strings.Cut(fullType, ", ")
	body := devopsError(typ[strings.LastIndex(typ, ".")+1:], msg, 0)
	body["typeName"] = fullType
	body["eventId"] = 3000
	return &adoFailure{code, body}
}

func adoWebAPI(typ string) string {
	return "Microsoft.VisualStudio.Services.WebApi." + typ + ", Microsoft.VisualStudio.Services.WebApi"
}

func adoItemNotFound(id string) *adoFailure {
	return adoWITFail(http.StatusNotFound, "WorkItemUnauthorizedAccessException",
		"TF401232: Work item "+id+" does not exist, or you do not have permissions to read it.")
}

func adoRuleFail(field, codes string) *adoFailure {
	return adoWITFail(http.StatusBadRequest, "RuleValidationException",
		"TF401320: Rule Error for field "+field+". Error code: "+codes+".")
}

func adoFieldNotFound(name string) *adoFailure {
	return adoWITFail(http.StatusBadRequest, "WorkItemTrackingFieldDefinitionNotFoundException", "TF51535: Cannot find field "+name+".")
}

func adoInvalidPatch() *adoFailure {
	return adoVSSFail(http.StatusBadRequest, "Microsoft.VisualStudio.Services.Common.VssPropertyValidationException, Microsoft.VisualStudio.Services.Common",
		"You must pass a valid patch document in the body of the request.")
}

func adoPatchFail(msg string) *adoFailure {
	return adoVSSFail(http.StatusBadRequest, "Microsoft.VisualStudio.Services.WebApi.Patch.PatchOperationFailedException, Microsoft.VisualStudio.Services.WebApi", msg)
}

// adoTestFail is the answer to a failed JSON Patch test, such as a stale
// /rev: 412, as Azure DevOps maps TestPatchOperationFailedException.
func adoTestFail(path string, have, want any) *adoFailure {
	return adoVSSFail(http.StatusPreconditionFailed, "Microsoft.VisualStudio.Services.WebApi.Patch.TestPatchOperationFailedException, Microsoft.VisualStudio.Services.WebApi",
		fmt.Sprintf("VS403351: Test Operation for path %s failed, value %v was not equal to test value %v.", path, have, want))
}

func adoArgumentNull(param string) *adoFailure {
	return adoVSSFail(http.StatusBadRequest, "System.ArgumentNullException, mscorlib", "Value cannot be null.\r\nParameter name: "+param)
}

func adoArgument(msg string) *adoFailure {
	return adoVSSFail(http.StatusBadRequest, "System.ArgumentException, mscorlib", msg)
}
