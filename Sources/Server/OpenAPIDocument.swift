/// GET /openapi.json: the API as an OpenAPI 3.0 document (written by hand beside `Routes`).
enum OpenAPIDocument {
    static let json = #"""
{
  "openapi": "3.0.3",
  "info": {"title": "hrnet serve", "version": "1", "description": "HRNet pose estimation, segmentation, classification and detection over HTTP. Bodies are JPEG or PNG images; errors are {\"error\": message} with a 4xx or 5xx status (413: body or image too large, 503: busy, with Retry-After; 504: timed out)."},
  "paths": {
    "/v1/pose": {"post": {
      "summary": "Keypoints of every person",
      "parameters": [
        {"name": "box", "in": "query", "schema": {"type": "string", "example": "10,20,100,200"}, "description": "x,y,w,h in pixels; repeatable. None: the model's person detector finds the people, else the whole image is one person."},
        {"name": "flip", "in": "query", "schema": {"type": "boolean"}, "description": "Flip test (default: the model's TEST.FLIP_TEST)."},
        {"name": "model", "in": "query", "schema": {"type": "string"}}],
      "requestBody": {"required": true, "content": {"image/jpeg": {}, "image/png": {}}},
      "responses": {"200": {"description": "The people", "content": {"application/json": {"schema": {"$ref": "#/components/schemas/Pose"}}}},
                    "400": {"$ref": "#/components/responses/Error"}, "413": {"$ref": "#/components/responses/Error"},
                    "503": {"$ref": "#/components/responses/Error"}}}},
    "/v1/segment": {"post": {
      "summary": "A class for every pixel",
      "parameters": [{"name": "model", "in": "query", "schema": {"type": "string"}}],
      "requestBody": {"required": true, "content": {"image/jpeg": {}, "image/png": {}}},
      "responses": {"200": {"description": "With Accept: image/png the label map (8-bit, class ids); else the classes' areas",
                            "content": {"image/png": {}, "application/json": {"schema": {"$ref": "#/components/schemas/Segment"}}}},
                    "400": {"$ref": "#/components/responses/Error"}}}},
    "/v1/classify": {"post": {
      "summary": "The most probable classes",
      "parameters": [{"name": "top", "in": "query", "schema": {"type": "integer", "default": 5}}, {"name": "model", "in": "query", "schema": {"type": "string"}}],
      "requestBody": {"required": true, "content": {"image/jpeg": {}, "image/png": {}}},
      "responses": {"200": {"description": "Top classes", "content": {"application/json": {}}}, "400": {"$ref": "#/components/responses/Error"}}}},
    "/v1/detect": {"post": {
      "summary": "Objects and their boxes",
      "parameters": [{"name": "threshold", "in": "query", "schema": {"type": "number", "default": 0.3}}, {"name": "model", "in": "query", "schema": {"type": "string"}}],
      "requestBody": {"required": true, "content": {"image/jpeg": {}, "image/png": {}}},
      "responses": {"200": {"description": "Detections (box [x, y, w, h])", "content": {"application/json": {}}}, "400": {"$ref": "#/components/responses/Error"}}}},
    "/v1/models": {"get": {"summary": "The models served", "responses": {"200": {"description": "name, task, input size, classes or keypoints", "content": {"application/json": {}}}}}},
    "/healthz": {"get": {"summary": "Liveness", "responses": {"200": {"description": "{\"status\": \"ok\"}"}}}},
    "/metrics": {"get": {"summary": "Prometheus metrics", "responses": {"200": {"description": "Text exposition format", "content": {"text/plain": {}}}}}}
  },
  "components": {
    "responses": {"Error": {"description": "What is wrong", "content": {"application/json": {"schema": {"type": "object", "properties": {"error": {"type": "string"}}}}}}},
    "schemas": {
      "Pose": {"type": "object", "properties": {
        "model": {"type": "string"},
        "image": {"type": "object", "properties": {"width": {"type": "integer"}, "height": {"type": "integer"}}},
        "keypoint_names": {"type": "array", "items": {"type": "string"}},
        "skeleton": {"type": "array", "items": {"type": "array", "items": {"type": "integer"}}},
        "people": {"type": "array", "items": {"type": "object", "properties": {
          "box": {"type": "array", "items": {"type": "number"}, "description": "[x, y, w, h]"},
          "score": {"type": "number"}, "box_score": {"type": "number"},
          "keypoints": {"type": "array", "items": {"type": "array", "items": {"type": "number"}}, "description": "[x, y, score] per keypoint"}}}}}},
      "Segment": {"type": "object", "properties": {
        "model": {"type": "string"}, "width": {"type": "integer"}, "height": {"type": "integer"},
        "classes": {"type": "array", "items": {"type": "object", "properties": {"id": {"type": "integer"}, "name": {"type": "string"}, "fraction": {"type": "number"}, "pixels": {"type": "integer"}}}}}}
    }
  }
}
"""#
}
